-- Warn (never fail) when orders carry data-quality warnings: real sources are inconsistent, and the business
-- should see how often, not lose the orders.
{{ config(severity='warn') }}

select
    order_id,
    quality_flags
from {{ ref('dq_orders_flagged') }}
