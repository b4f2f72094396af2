-- Revenue reconciliation: every order's order_value in fct_orders equals the sum of price + freight of its
-- lines in the raw order_items table, to the cent, and no raw order is missing or extra. Returns the
-- orders that disagree (a row fails the test).
with

raw_revenue as (

    select
        order_id,
        sum(price + freight_value) as raw_value
    from {{ source('orders_rt', 'order_items') }}
    group by order_id

),

raw_orders as (

    select
        orders.order_id,
        coalesce(raw_revenue.raw_value, 0) as raw_value

    from {{ source('orders_rt', 'orders') }} as orders
    left join raw_revenue on orders.order_id = raw_revenue.order_id

),

compared as (

    select
        coalesce(raw_orders.order_id, fct_orders.order_id) as order_id,
        raw_orders.raw_value,
        fct_orders.order_value

    from raw_orders
    full outer join {{ ref('fct_orders') }} as fct_orders
        on raw_orders.order_id = fct_orders.order_id

)

select *
from compared
where raw_value is null
    or order_value is null
    or abs(raw_value - order_value) >= 0.005
