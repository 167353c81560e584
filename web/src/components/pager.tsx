interface Props {
  label: string;
  page: number;
  pageSize: number;
  shown: number;
  total: number;
  onPage(page: number): void;
}

/** Previous / next for offset paging, with "21–40 of 57". */
export function Pager({ label, page, pageSize, shown, total, onPage }: Props) {
  const first = page * pageSize + 1;
  return (
    <nav class="pager" aria-label={`${label} pages`}>
      <button type="button" disabled={page === 0} onClick={() => onPage(page - 1)}>
        Previous
      </button>
      <span aria-live="polite">{total === 0 ? 'None' : `${first}–${first + shown - 1} of ${total}`}</span>
      <button type="button" disabled={first + shown - 1 >= total} onClick={() => onPage(page + 1)}>
        Next
      </button>
    </nav>
  );
}
