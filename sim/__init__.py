"""teamsim.sim."""
