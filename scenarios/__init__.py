"""teamsim.scenarios."""
