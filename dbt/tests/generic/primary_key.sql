{#- Generic test: `columns` together are the model's primary key. Fails on every key that repeats and on
    every row with a NULL in one of the columns (a NULL is no key, and GROUP BY would let one pass). -#}
{% test primary_key(model, columns) %}

with

keys as (

    select
        {{ columns | join(',\n        ') }},
        count(*) as row_count

    from {{ model }}
    group by {{ columns | join(', ') }}

)

select *
from keys
where row_count > 1
    {% for column in columns %}
    or {{ column }} is null
    {% endfor %}

{% endtest %}
