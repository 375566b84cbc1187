"""Commands of the ``geo-grid`` CLI kept in their own modules, registered in :mod:`geo_grid.cli`.

Each module holds one command as a plain function of typer options; the core it calls is
imported inside the function, so that ``geo-grid --help`` stays fast.
"""
