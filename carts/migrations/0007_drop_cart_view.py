# The kept view of a cart's items' answer now lives on the cart's own document (raw field
# ``items_view``, carts/read_model.py): the ``carts_cartview`` collection and its documents go.

from django.db import migrations


class Migration(migrations.Migration):

    dependencies = [
        ('carts', '0006_cart_view'),
    ]

    operations = [
        migrations.DeleteModel(
            name='CartView',
        ),
    ]
