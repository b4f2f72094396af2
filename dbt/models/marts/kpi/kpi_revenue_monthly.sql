-- Months are local calendar months (var reporting_timezone) of the purchase instant: an order at 01:00 UTC
-- on the 1st belongs to the previous month in Sao Paulo. Every month from the first to the latest purchase
-- is a row, months without sales included (as 0).
with

orders as (

    select * from {{ ref('fct_orders') }}
    where is_sale

),

months as (

    select distinct month_start
    from {{ ref('dim_date') }}
    where month_start >= (select min({{ local_month('orders.purchased_at') }}) from orders)
        and month_start <= (select max({{ local_month('orders.purchased_at') }}) from orders)

),

sales as (

    select
        {{ local_month('purchased_at') }} as month_start,
        count(*) as order_count,
        sum(order_value) as revenue

    from orders
    group by {{ local_month('purchased_at') }}

),

monthly as (

    select
        months.month_start,
        coalesce(sales.order_count, 0) as order_count,
        coalesce(sales.revenue, 0) as revenue

    from months
    left join sales on months.month_start = sales.month_start

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
