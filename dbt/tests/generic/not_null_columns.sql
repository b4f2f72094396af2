{#- Generic test: none of `columns` holds a NULL. One test node for a model's not-null columns instead of one per
    column: dbt's per-node overhead (~50 ms locally, a query job each on BigQuery) was most of a local build's
    time (BENCHMARKS.md, dbt build). Fails with one row per column that has NULLs, naming it and counting them. -#}
{% test not_null_columns(model, columns) %}

{% for column in columns %}
select
    '{{ column }}' as column_name,
    count(*) as null_rows
from {{ model }}
where {{ column }} is null
having count(*) > 0
{% if not loop.last %}
union all
{% endif %}
{% endfor %}

{% endtest %}
