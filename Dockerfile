FROM python:3.11-slim
WORKDIR /srv/hotline
COPY pyproject.toml README.md alembic.ini ./
COPY alembic ./alembic
COPY app ./app
COPY examples ./examples
# Editable install: `hotline migrate` finds alembic/ beside the package.
RUN pip install --no-cache-dir -e .
ENV HOTLINE_DATABASE_URL=postgresql+psycopg://hotline:hotline@db:5432/hotline
EXPOSE 8000
CMD ["hotline", "serve", "--host", "0.0.0.0", "--port", "8000"]
