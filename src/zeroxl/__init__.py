"""0xl: deploy services published as signed 0install feeds onto hosts it manages."""

__version__ = "0.1.0"
