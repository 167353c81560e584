import ExcelJS from 'exceljs';

/** The cells of the first sheet of a workbook, row by row, as exceljs reads them. */
export async function readXlsx(data: Buffer): Promise<unknown[][]> {
  const workbook = new ExcelJS.Workbook();
  await workbook.xlsx.load(data as unknown as ArrayBuffer);
  const sheet = workbook.worksheets[0];
  if (!sheet) throw new Error('the workbook has no sheet');
  const rows: unknown[][] = [];
  // exceljs numbers rows and cells from 1; a missing cell is a hole.
  sheet.eachRow({ includeEmpty: true }, (row, number) => {
    rows[number - 1] = Array.from((row.values as unknown[]).slice(1), (v) => v ?? '');
  });
  return rows;
}
