-- Splitting sales by channel loses and doubles nothing: for every month, the channels' orders and revenue
-- add up to kpi_revenue_monthly's (orders of version 1 producers are the channel 'unknown'). Returns the
-- months that differ.
with

by_channel as (

    select
        month_start,
        sum(order_count) as order_count,
        sum(revenue) as revenue
    from {{ ref('kpi_channel_reviews_monthly') }}
    group by month_start

),

monthly as (

    select
        month_start,
        order_count,
        revenue
    from {{ ref('kpi_revenue_monthly') }}
    where order_count > 0

)

select
    coalesce(by_channel.month_start, monthly.month_start) as month_start,
    by_channel.order_count as channel_order_count,
    monthly.order_count as monthly_order_count

from by_channel
full outer join monthly
    on by_channel.month_start = monthly.month_start
where by_channel.order_count is null
    or monthly.order_count is null
    or by_channel.order_count <> monthly.order_count
    or abs(by_channel.revenue - monthly.revenue) >= 0.005
