with

daily as (

    select * from {{ ref('kpi_revenue_daily') }}

),

monthly as (

    select
        {{ month_start('date_day') }} as month_start,
        sum(order_count) as order_count,
        sum(revenue) as revenue

    from daily
    group by {{ month_start('date_day') }}

),

with_previous_month as (

    select
        *,
        lag(revenue) over (order by month_start) as previous_month_revenue

    from monthly

),

final as (

    select
        month_start,
        order_count,
        revenue,
        revenue / nullif(order_count, 0) as average_order_value,
        (revenue - previous_month_revenue) / nullif(previous_month_revenue, 0) as revenue_growth_rate

    from with_previous_month

)

select * from final
