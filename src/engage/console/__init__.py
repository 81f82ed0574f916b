"""The web console: the wallboard, the agent's desk and the admin pages, served by Engage at `/console` as static
files (HTML, CSS and JavaScript modules written by hand, no build step and no CDN, so it works offline). It signs
in and reads everything through the public API and the live event stream, like any other client."""
