with

source as (

    select * from {{ source('orders_rt', 'order_payments') }}

),

renamed as (

    select
        {{ dbt.concat(["order_id", "'-'", "cast(payment_sequential as " ~ dbt.type_string() ~ ")"]) }}
            as order_payment_key,
        order_id,
        payment_sequential,
        payment_type,
        payment_installments,
        payment_value,
        _sequence as snapshot_sequence,
        _event_time as last_event_at,
        _ingested_at as ingested_at

    from source

)

select * from renamed
