-- Sales and customer satisfaction by sales channel and local month (schema version 2's channel and review).
-- Orders from version 1 producers have no channel: they are the channel 'unknown', so the months' totals
-- still equal kpi_revenue_monthly while a producer rollout is under way.
with

orders as (

    select * from {{ ref('fct_orders') }}
    where is_sale

),

final as (

    select
        {{ local_month('purchased_at') }} as month_start,
        coalesce(channel, 'unknown') as channel,
        count(*) as order_count,
        sum(order_value) as revenue,
        count(review_score) as review_count,
        avg(review_score) as average_review_score,
        count(case when review_score <= 2 then 1 end) / nullif(count(review_score), 0) as low_score_share

    from orders
    group by {{ local_month('purchased_at') }}, coalesce(channel, 'unknown')

)

select * from final
