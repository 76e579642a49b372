"""teamsim.store."""
