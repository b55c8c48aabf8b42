"""The feature store that the feature-read tests share: a group of three features, an optimized online
store, and two views of it (one of a single feature)."""

FEATURES = """\
features:
  groups:
    customers:
      source: {dataset: features, table: customers}
      entityIdColumns: [customer_id]
      features: [age, country, spend]
  onlineStores:
    online: {type: optimized}
  views:
    customer-profile: {store: online, group: customers, features: [age]}
    all-customers: {store: online, group: customers}
"""
