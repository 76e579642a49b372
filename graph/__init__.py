"""teamsim.graph."""
