-- Payments are summed per order on their own, for the same reason as the items (see the items model).
with

order_payments as (

    select * from {{ ref('stg_orders_rt__order_payments') }}

),

summed as (

    select
        order_id,
        count(*) as payment_count,
        sum(payment_value) as payment_total,
        max(payment_installments) as max_installments,
        count(distinct payment_type) as payment_type_count

    from order_payments
    group by order_id

)

select * from summed
