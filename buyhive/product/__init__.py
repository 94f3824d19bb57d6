"""The shared product vocabulary: what carts, extraction and mlverify all mean by a product's
money, currencies, availability, addresses and text, stated once."""
