"""The `switchboard` command: composes gateway, streams and dev tooling. Nothing imports it."""
