-- Catalog sellers plus sellers named by order lines but not (yet) loaded: see dim_products.
with

sellers as (

    select * from {{ ref('stg_olist__sellers') }}

),

ordering_sellers as (

    select distinct seller_id from {{ ref('stg_orders_rt__order_items') }}

),

final as (

    select
        seller_id,
        seller_zip_code_prefix,
        seller_city,
        seller_state,
        true as is_in_catalog

    from sellers

    union all

    select
        ordering_sellers.seller_id,
        cast(null as {{ dbt.type_string() }}) as seller_zip_code_prefix,
        cast(null as {{ dbt.type_string() }}) as seller_city,
        cast(null as {{ dbt.type_string() }}) as seller_state,
        false as is_in_catalog

    from ordering_sellers
    left join sellers
        on ordering_sellers.seller_id = sellers.seller_id
    where sellers.seller_id is null

)

select * from final
