"""The gateway: the public HTTP entry point that authenticates senders, validates their
notifications and publishes them, byte for byte, to raw-notifications (see gateway.app)."""
