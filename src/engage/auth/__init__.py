"""Sign-in: login, refresh-token rotation and revocation, and failed-login throttling."""
