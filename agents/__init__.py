"""teamsim.agents."""
