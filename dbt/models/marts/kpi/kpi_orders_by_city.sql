-- AOV and purchase frequency where the customer lives (location as given on each order).
with

orders as (

    select * from {{ ref('fct_orders') }}
    where is_sale

),

final as (

    select
        customer_state,
        customer_city,
        count(distinct customer_unique_id) as customer_count,
        count(*) as order_count,
        sum(order_value) as revenue,
        sum(order_value) / count(*) as average_order_value,
        count(*) * 1.0 / count(distinct customer_unique_id) as purchase_frequency

    from orders
    group by
        customer_state,
        customer_city

)

select * from final
