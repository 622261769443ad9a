"""Switchboard's contracts: notification models, topic names, record headers, tenants file.

The gateway and the stream workers never import each other; everything they agree on
lives here, so a change to the wire format is a change in one place.
"""
