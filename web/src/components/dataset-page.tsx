import { DatasetExports } from './dataset-exports';
import { ItemsView } from './items-view';
import { StoragePage } from './storage-page';

/** One dataset: its facts, settings, downloads and items. */
export function DatasetPage({ datasetId }: { datasetId: string }) {
  return (
    <StoragePage
      kind="dataset"
      id={datasetId}
      facts={(d) => (
        <>
          <dt>Items</dt>
          <dd>{d.itemCount.toLocaleString()}</dd>
          <dt>Reads / writes</dt>
          <dd>
            {d.stats.readCount} / {d.stats.writeCount}
          </dd>
        </>
      )}
    >
      {(d) => (
        <>
          <DatasetExports dataset={d} />
          <ItemsView dataset={d} />
        </>
      )}
    </StoragePage>
  );
}
