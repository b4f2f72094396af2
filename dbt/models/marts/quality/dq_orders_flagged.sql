-- Orders whose current snapshot broke a soft rule of the contract (README, "Soft rules"): the pipeline keeps
-- them as the source says and flags them, so they are counted here instead of vanishing into the dead letter.
with

orders as (

    select * from {{ ref('stg_orders_rt__orders') }}

),

final as (

    select
        order_id,
        order_status,
        quality_flags,
        purchased_at,
        last_event_at,
        ingested_at

    from orders
    where quality_flags is not null

)

select * from final
