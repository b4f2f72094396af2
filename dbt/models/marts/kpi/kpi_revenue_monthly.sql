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

final as (

    select
        month_start,
        order_count,
        revenue,
        revenue / nullif(order_count, 0) as average_order_value,
        (revenue - lag(revenue) over (order by month_start))
        / nullif(lag(revenue) over (order by month_start), 0) as revenue_growth_rate

    from monthly

)

select * from final
