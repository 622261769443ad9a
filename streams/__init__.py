"""Switchboard's stream processor (Faust): dedupe, route and tabulate raw notifications.

raw-notifications -> route_notifications (streams.agents) -> per-type topics, tables,
notifications.conflicts / notifications.dead-letter; tables are queried through the
worker's web views (streams.views). `python -m streams` or `switchboard worker` runs one.
"""
