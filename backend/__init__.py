"""Services with no chat knowledge: accounts, identity, codes, verification, credit data, delivery."""
