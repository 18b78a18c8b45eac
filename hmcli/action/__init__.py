"""Action recognition on the HumMUSS motion representation (``hm action``)."""
