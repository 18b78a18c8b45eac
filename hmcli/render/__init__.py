"""Preview rendering (``hm render``): 2D overlay + 3D skeleton view, drawn with OpenCV."""

from hmcli.render.overlay import OverlayRenderer, panel_width, render_overlay

__all__ = ["OverlayRenderer", "panel_width", "render_overlay"]
