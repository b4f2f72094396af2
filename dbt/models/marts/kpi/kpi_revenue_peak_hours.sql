with

orders as (

    select * from {{ ref('fct_orders') }}
    where is_sale

),

by_hour as (

    select
        {{ iso_day_of_week(local_date('purchased_at')) }} as iso_day_of_week,
        {{ day_name(local_date('purchased_at')) }} as day_name,
        {{ local_hour('purchased_at') }} as hour_of_day,
        count(*) as order_count,
        sum(order_value) as revenue

    from orders
    group by 1, 2, 3

),

final as (

    select
        *,
        revenue / nullif(sum(revenue) over (), 0) as revenue_share,
        rank() over (order by order_count desc, revenue desc) as peak_rank

    from by_hour

)

select * from final
