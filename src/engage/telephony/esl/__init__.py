"""FreeSWITCH's Event Socket Layer: the codec (shared by the client and the simulator) and the client."""
