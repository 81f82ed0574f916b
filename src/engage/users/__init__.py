"""Users (admins, supervisors, agents) and the teams agents belong to."""
