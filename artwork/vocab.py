"""The fixed vocabularies shared by the catalog, the features and the simulator.

Artwork tags are validated against these, so a typo in a manifest is refused at import time
rather than silently becoming a feature the model never sees again.
"""

#: Genres of the demo catalog. An artwork's ``theme`` tag names the genre aspect it sells and is
#: drawn from the same vocabulary as the titles' genres (imported catalogs may add genres).
GENRES = (
    "action",
    "animation",
    "comedy",
    "documentary",
    "drama",
    "family",
    "horror",
    "romance",
    "scifi",
    "thriller",
)

#: Colour treatment of an artwork.
TONES = ("dark", "bright", "warm", "cool", "muted")

#: What the artwork shows.
SUBJECTS = ("close-up", "ensemble", "scene", "landscape", "title-logo")

#: Local time-of-day buckets, by starting hour: morning 05-12, afternoon 12-17,
#: evening 17-22, late night 22-05.
TIME_BUCKETS = ("morning", "afternoon", "evening", "late-night")

DAY_TYPES = ("weekday", "weekend")

DEVICES = ("tv", "mobile", "web", "tablet")
