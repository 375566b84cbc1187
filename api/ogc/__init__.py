"""OGC API – Features (Part 1 Core + GeoJSON, Part 2 CRS by reference) over the district's layers.

:mod:`api.ogc.params` parses and checks the query parameters as the standard asks (a 400
problem for a bad one); :mod:`api.ogc.layers` holds the four collections and, per snapshot, their
features serialised once in both offered CRSs. The routes are :mod:`api.routes.ogc`.
"""
