"""Fixtures shared by the mlverify tests, re-exported from the modules that define them.

Each engineer keeps fixtures next to the tiny model they build (``tiny_clip.py``,
``tiny_models.py``) and lists them here so pytest finds them in every test module.
"""

from mlverify.tests.tiny_clip import (  # noqa: F401 - pytest fixtures
    _image_server_session,
    clip_settings,
    image_server,
    tiny_clip,
)
from mlverify.tests.tiny_models import (  # noqa: F401 - pytest fixtures
    tiny_bert,
    tiny_classifier,
)
