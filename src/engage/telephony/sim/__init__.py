"""A switch simulator that speaks the server side of ESL on a TCP socket, for tests, demos and load runs."""
