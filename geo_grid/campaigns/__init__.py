"""Door-to-door campaigns (排查/走访): a set of buildings to visit before a deadline, each given
to the member who covers it, the visits recorded building by building (idempotently, by the
client's visit id), and the progress per grid, community and member.

- :mod:`geo_grid.campaigns.plan`: which buildings a scope holds, who visits each, walking order;
- :mod:`geo_grid.campaigns.records`: the campaign and its visits in the store;
- :mod:`geo_grid.campaigns.progress`: households reached, percentages, overdue buildings;
- :mod:`geo_grid.campaigns.report`: the daily report workbook.
"""

from geo_grid.campaigns.model import STATUSES, Campaign, CampaignBuilding, Visit

__all__ = ["STATUSES", "Campaign", "CampaignBuilding", "Visit"]
