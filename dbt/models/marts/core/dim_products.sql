-- Products in the catalog plus any product an order line names that the catalog does not have yet
-- (a late-arriving dimension: the stream can be ahead of the last reference load). Those get
-- is_in_catalog = false and the 'unknown' category, so facts always find their product.
with

products as (

    select * from {{ ref('stg_olist__products') }}

),

category_translations as (

    select * from {{ ref('stg_olist__category_translations') }}

),

ordered_products as (

    select distinct product_id from {{ ref('stg_orders_rt__order_items') }}

),

catalog as (

    select
        products.product_id,
        products.product_category_name as category_name_portuguese,
        -- two real categories have no English name: keep the Portuguese one rather than lose the category
        coalesce(
            category_translations.product_category_name_english,
            products.product_category_name,
            'uncategorized'
        ) as category_name,
        category_translations.product_category_name_english is not null as has_english_category,
        products.product_name_length,
        products.product_description_length,
        products.product_photos_qty,
        products.product_weight_g,
        products.product_length_cm,
        products.product_height_cm,
        products.product_width_cm,
        true as is_in_catalog

    from products
    left join category_translations
        on products.product_category_name = category_translations.product_category_name

),

not_in_catalog as (

    select
        ordered_products.product_id,
        cast(null as {{ dbt.type_string() }}) as category_name_portuguese,
        'unknown' as category_name,
        false as has_english_category,
        cast(null as {{ dbt.type_int() }}) as product_name_length,
        cast(null as {{ dbt.type_int() }}) as product_description_length,
        cast(null as {{ dbt.type_int() }}) as product_photos_qty,
        cast(null as {{ dbt.type_int() }}) as product_weight_g,
        cast(null as {{ dbt.type_int() }}) as product_length_cm,
        cast(null as {{ dbt.type_int() }}) as product_height_cm,
        cast(null as {{ dbt.type_int() }}) as product_width_cm,
        false as is_in_catalog

    from ordered_products
    left join products
        on ordered_products.product_id = products.product_id
    where products.product_id is null

),

final as (

    select * from catalog
    union all
    select * from not_in_catalog

)

select * from final
