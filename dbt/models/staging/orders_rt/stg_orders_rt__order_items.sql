with

source as (

    select * from {{ source('orders_rt', 'order_items') }}

),

renamed as (

    select
        {{ dbt.concat(["order_id", "'-'", "cast(order_item_id as " ~ dbt.type_string() ~ ")"]) }} as order_item_key,
        order_id,
        order_item_id,
        product_id,
        seller_id,
        shipping_limit_date as shipping_limit_at,
        price,
        freight_value,
        _sequence as snapshot_sequence,
        _event_time as last_event_at,
        _ingested_at as ingested_at

    from source

)

select * from renamed
