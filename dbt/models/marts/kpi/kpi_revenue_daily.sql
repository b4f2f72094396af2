with

orders as (

    select * from {{ ref('fct_orders') }}
    where is_sale

),

days as (

    select date_day
    from {{ ref('dim_date') }}
    where date_day >= (select min(orders.purchase_date) from orders)
        and date_day <= (select max(orders.purchase_date) from orders)

),

daily as (

    select
        purchase_date,
        count(*) as order_count,
        sum(items_value) as items_value,
        sum(freight_value) as freight_value,
        sum(order_value) as revenue

    from orders
    group by purchase_date

),

final as (

    select
        days.date_day,
        coalesce(daily.order_count, 0) as order_count,
        coalesce(daily.items_value, 0) as items_value,
        coalesce(daily.freight_value, 0) as freight_value,
        coalesce(daily.revenue, 0) as revenue,
        daily.revenue / nullif(daily.order_count, 0) as average_order_value,
        avg(coalesce(daily.revenue, 0)) over (
            order by days.date_day rows between 6 preceding and current row
        ) as revenue_7d_moving_average

    from days
    left join daily on days.date_day = daily.purchase_date

)

select * from final
