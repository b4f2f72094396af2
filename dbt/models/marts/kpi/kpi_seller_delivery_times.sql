-- Delivery time of an order counts once per seller in it (not once per item line).
with

order_items as (

    select * from {{ ref('fct_order_items') }}

),

orders as (

    select * from {{ ref('fct_orders') }}
    where delivery_days is not null

),

sellers as (

    select * from {{ ref('dim_sellers') }}

),

seller_orders as (

    select distinct
        order_items.seller_id,
        orders.order_id,
        orders.delivery_days,
        orders.is_late

    from order_items
    inner join orders on order_items.order_id = orders.order_id

),

order_stats as (

    select
        -- an order this slow or slower is an outlier among all delivered orders
        avg(delivery_days) + {{ var('delivery_outlier_stddevs') }} * stddev_samp(delivery_days) as slow_order_days

    from orders

),

per_seller as (

    select
        seller_orders.seller_id,
        count(*) as delivered_orders,
        avg(seller_orders.delivery_days) as average_delivery_days,
        max(seller_orders.delivery_days) as max_delivery_days,
        avg(case when seller_orders.is_late then 1.0 else 0.0 end) as late_rate,
        sum(case when seller_orders.delivery_days > order_stats.slow_order_days then 1 else 0 end) as slow_order_count

    from seller_orders
    cross join order_stats
    group by seller_orders.seller_id

),

seller_stats as (

    select
        avg(average_delivery_days) as mean_of_sellers,
        stddev_samp(average_delivery_days) as stddev_of_sellers,
        avg(average_delivery_days)
        + {{ var('delivery_outlier_stddevs') }} * stddev_samp(average_delivery_days) as outlier_average_days

    from per_seller
    where delivered_orders >= {{ var('delivery_outlier_min_orders') }}

),

final as (

    select
        per_seller.seller_id,
        sellers.seller_city,
        sellers.seller_state,
        per_seller.delivered_orders,
        per_seller.average_delivery_days,
        per_seller.max_delivery_days,
        per_seller.late_rate,
        per_seller.slow_order_count,
        (per_seller.average_delivery_days - seller_stats.mean_of_sellers)
        / nullif(seller_stats.stddev_of_sellers, 0) as delivery_z_score,
        coalesce(
            per_seller.delivered_orders >= {{ var('delivery_outlier_min_orders') }}
            and per_seller.average_delivery_days > seller_stats.outlier_average_days,
            false
        ) as is_outlier

    from per_seller
    cross join seller_stats
    inner join sellers on per_seller.seller_id = sellers.seller_id

)

select * from final
