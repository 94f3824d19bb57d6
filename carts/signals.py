"""What carts tells the apps above it about items (they connect; carts never imports them).

``item_corrected``: the item's owner changed some of its fields through the API
(``PATCH items/{id}/``): their correction of what the page extraction saved. Sent after the
write with ``item`` and ``fields``, ``{item field name: new value}`` of the fields whose
value changed. Not sent for staff edits in the admin, re-saves from a page, or the price
watch's observations: only a user's own edit says what their page really showed.
(The price watch's own signal is :data:`carts.watch.signals.item_view_changed`.)
"""

from __future__ import annotations

from django.dispatch import Signal

item_corrected = Signal()
