"""Our Open311 GeoReport v2 server (`/open311/v2/`): 311 apps and FixMyStreet-style sites file
service requests through the same intake as every channel and follow them."""
