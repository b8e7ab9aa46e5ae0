"""`0xl serve`: a read-only web page of the host's services, a JSON API and Prometheus metrics (docs/web.md).

Imported only by `0xl serve`: aiohttp, Jinja2 and prometheus_client stay out of every other command.
`adapter` is the one module here that reads 0xl's state; the rest depends on it alone.
"""
