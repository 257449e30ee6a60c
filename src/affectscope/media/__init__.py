"""Media loading: images now; video decoding and frame sampling arrive with the video module."""

from affectscope.media.image import DEFAULT_MAX_PIXELS, MediaError, load_image, thumbnail_data_uri

__all__ = ["DEFAULT_MAX_PIXELS", "MediaError", "load_image", "thumbnail_data_uri"]
