"""teamsim."""
